BEGIN {
	x = 1 +;
}
