"""Click commands, one module per stage; registered lazily in distillguard.cli.COMMANDS."""
