BEGIN { execname == 1; }
