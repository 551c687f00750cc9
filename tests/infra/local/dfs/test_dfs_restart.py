"""The endpoint keeps no state of its own: stopping and starting it loses nothing (Azurite holds the data).
Runs on a private Azurite + DFS pair whose recursive deletes answer in batches of 50."""

from __future__ import annotations

import httpx
import pytest
from dfs_testkit import PrivateStack

pytestmark = pytest.mark.services


def test_restart_loses_nothing(private_stack: PrivateStack):
    with private_stack.lake() as service:
        fs = service.get_file_system_client("bronze")
        fs.create_file_system()
        fs.get_file_client("orders/2024/part-0.json").upload_data(b'{"order_id": 1}')
        fs.get_file_client("orders/2024/part-1.json").upload_data(b'{"order_id": 2}')
        fs.get_file_client("orders/2024/part-0.json").set_access_control(owner="alice")

    assert private_stack.launcher.stop(private_stack.dfs)
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://{private_stack.settings.dfs_hostport}/_health")
    private_stack.launcher.start(private_stack.dfs)

    with private_stack.lake() as service:
        fs = service.get_file_system_client("bronze")
        assert [(p.name, bool(p.is_directory)) for p in fs.get_paths()] == [
            ("orders", True),
            ("orders/2024", True),
            ("orders/2024/part-0.json", False),
            ("orders/2024/part-1.json", False),
        ]
        assert fs.get_file_client("orders/2024/part-1.json").download_file().readall() == b'{"order_id": 2}'
        assert fs.get_file_client("orders/2024/part-0.json").get_access_control()["owner"] == "alice"


def test_recursive_delete_follows_continuation_tokens(private_stack: PrivateStack):
    with private_stack.lake() as service:
        fs = service.get_file_system_client("silver")
        fs.create_file_system()
        for i in range(120):
            fs.create_file(f"big/d{i % 4}/f{i:03d}")
        fs.create_file("kept.txt")

        fs.get_directory_client("big").delete_directory()  # 124 blobs + marker: three calls of at most 50

        assert [p.name for p in fs.get_paths()] == ["kept.txt"]


def test_health_is_ok_only_while_azurite_answers(private_stack: PrivateStack):
    from infra.local.services import azurite_spec

    url = f"http://{private_stack.settings.dfs_hostport}/_health"
    azurite = azurite_spec(private_stack.settings)
    with httpx.Client() as client:
        assert (client.get(url).status_code, client.get(url).json()["status"]) == (200, "ok")
        private_stack.launcher.stop(azurite)
        assert (client.get(url).status_code, client.get(url).json()["status"]) == (503, "azurite unavailable")
        private_stack.launcher.start(azurite)
        assert client.get(url).status_code == 200
