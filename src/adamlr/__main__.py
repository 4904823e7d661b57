from adamlr.cli import app

app(prog_name="adamlr")
