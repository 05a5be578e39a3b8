"""Pages: one module per area (auth, queue, ticket, explore, admin), each an APIRouter behind login."""
