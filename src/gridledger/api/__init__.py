"""The HTTP API: submit transactions, read blocks, state and proofs, follow committed blocks.

``create_app(node)`` builds the FastAPI app; ``serve`` runs it in the foreground and
``ApiServer`` on a background thread. ``docs/api.md`` documents every endpoint.
"""

from gridledger.api.app import create_app
from gridledger.api.server import ApiServer, serve

__all__ = ["ApiServer", "create_app", "serve"]
