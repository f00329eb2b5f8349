tick-1s { @c = count(); }
tick-2s { printa(@c); }
