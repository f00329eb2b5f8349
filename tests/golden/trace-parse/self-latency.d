syscall::open*:entry { self->ts = timestamp; }
syscall::open*:return /self->ts/ {
	@lat = quantize(timestamp - self->ts);
	self->ts = 0;
}
