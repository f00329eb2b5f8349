BEGIN { x = $1 * 2; y = $2; a[x, y] = 1; this->z = x > 3 ? -x : ~x; if (a[x, y]) { trace(y); } else trace(x); }
