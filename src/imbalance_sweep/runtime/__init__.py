"""The bottom layer, importing nothing else of the package: Ctrl-C and SIGTERM (signals), what /proc
says of a process (processes), and the one line of a user's mistake (user_errors)."""

# How every line this project prints for a person to act on begins (a mistake, an interruption).
PROGRAM = "imbalance-sweep"
