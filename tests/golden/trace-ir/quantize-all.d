syscall:::return { @q = quantize(arg0); }
