BEGIN { printf("hi %d\n", 1 + 2); exit(0); }
