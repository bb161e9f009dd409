"""s2v: the Speech2Video kit (Liao, Zhang et al., ACCV 2020) — speech or text in, talking video out."""
__version__ = "0.1.0"
