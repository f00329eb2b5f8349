tick-1s { @[zonename] = lquantize(cpu, 0, 64, 8); printa("%s %@d\n", @); trunc(@); normalize(@, 2); clear(@); }
profile-997 /arg0/ { @p[cpu] = count(); }
