syscall::read:entry { self->t = timestamp; } syscall::read:return /self->t/ { @[zonename] = avg(timestamp - self->t); self->t = 0; }
