import os

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="fastapidemo")


class Item(BaseModel):
    name: str
    quantity: int = 1


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "pid": os.getpid()}


@app.post("/items")
def create_item(item: Item) -> dict:
    return {"name": item.name, "total": item.quantity * 2}
