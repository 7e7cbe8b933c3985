"""What the target is: its CPU and Python, ELF files, and the glibc they need."""
