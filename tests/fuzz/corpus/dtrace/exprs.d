BEGIN { x = ((((1)))) ; a["x"] ^= x << 2 >> 1; y = !x || x && x ^^ 0; z = strjoin("a", copyinstr(arg0)); q = strlen(z) % 3; }
