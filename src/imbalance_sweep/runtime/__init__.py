"""The bottom layer, importing nothing else of the package: Ctrl-C and SIGTERM (signals) and what
/proc says of a process (processes)."""
