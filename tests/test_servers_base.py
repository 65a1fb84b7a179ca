import httpx
from aiohttp import web

from tests.servers._base import serve_app


def test_serve_app_answers_on_loopback() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app = web.Application()
    app.router.add_get("/hello", hello)
    with serve_app(app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base_url}/hello").json() == {"hello": "world"}
