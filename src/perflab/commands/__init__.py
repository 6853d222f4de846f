"""One module per `perflab` subcommand, each with ``register(subparsers)`` and ``run(args)``."""
