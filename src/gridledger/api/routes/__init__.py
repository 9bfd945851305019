"""The API's routes, one module per resource; each offers ``router(ctx) -> APIRouter``."""
