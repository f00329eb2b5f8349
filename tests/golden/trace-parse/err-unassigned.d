BEGIN { trace(y); }
