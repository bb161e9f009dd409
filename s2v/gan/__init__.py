"""Skeleton-to-video GAN with part-aware discriminators (paper section 3.5)."""
