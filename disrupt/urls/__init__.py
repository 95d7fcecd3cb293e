"""Reading web addresses, with no I/O and no feature: IP literals as browsers read them and
the normalisation of pasted URLs. Cases, monitoring, platforms and tracing use it; it imports
none of them."""
