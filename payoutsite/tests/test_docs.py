"""/docs works without internet: Swagger UI's assets are served by us (drf-spectacular-sidecar)."""

import re


def test_docs_page_loads_its_assets_from_us(anon, db):
    page = anon.get("/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', page)
    assert assets, page
    for asset in assets:
        assert asset.startswith("/static/"), asset
        response = anon.get(asset)
        assert response.status_code == 200, asset
