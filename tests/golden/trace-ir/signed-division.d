BEGIN
{
	x = -7;
	printf("%d %d %d\n", x / 2, x % 2, timestamp / 1000);
}
