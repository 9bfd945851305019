"""``python -m gridledger.cli`` runs the ``gridledger`` command."""

from gridledger.cli.main import app

if __name__ == "__main__":
    app()
