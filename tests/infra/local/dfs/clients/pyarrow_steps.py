"""pyarrow's ``AzureFileSystem`` (the Azure C++ SDK) driven through one sequence against the DFS endpoint.

Run as a script, in its own process, so that a crash of the C++ SDK shows as an exit code instead of taking
the test run down: ``python pyarrow_steps.py <host:port> <account> <key> <filesystem>``. Prints one JSON
object, step name -> what it saw.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs


def run(authority: str, account: str, key: str, filesystem: str) -> dict[str, object]:
    fs = pafs.AzureFileSystem(
        account_name=account,
        account_key=key,
        blob_storage_authority=authority,
        dfs_storage_authority=authority,
        blob_storage_scheme="http",
        dfs_storage_scheme="http",
    )
    seen: dict[str, object] = {}

    def tree() -> list[tuple[str, str]]:
        selector = pafs.FileSelector(filesystem, recursive=True)
        return [(i.path.removeprefix(filesystem + "/"), i.type.name) for i in fs.get_file_info(selector)]

    def error(step: Callable[[], object]) -> str:
        try:
            step()
        except FileNotFoundError:
            return "FileNotFoundError"
        return "no error"

    fs.create_dir(filesystem)
    fs.create_dir(f"{filesystem}/raw/2024")
    with fs.open_output_stream(f"{filesystem}/raw/2024/orders.csv") as out:
        out.write(b"id,amount\n1,9.5\n")
    seen["list"] = tree()
    info = fs.get_file_info(f"{filesystem}/raw/2024/orders.csv")
    seen["stat"] = [info.type.name, info.size]
    seen["stat_directory"] = fs.get_file_info(f"{filesystem}/raw").type.name
    seen["read"] = fs.open_input_stream(f"{filesystem}/raw/2024/orders.csv").read().decode()
    seen["missing"] = fs.get_file_info(f"{filesystem}/raw/nope.csv").type.name
    seen["missing_read"] = error(lambda: fs.open_input_stream(f"{filesystem}/raw/nope.csv").read())
    seen["missing_delete"] = error(lambda: fs.delete_file(f"{filesystem}/raw/nope.csv"))

    fs.move(f"{filesystem}/raw/2024/orders.csv", f"{filesystem}/raw/2024/orders-renamed.csv")
    fs.move(f"{filesystem}/raw/2024", f"{filesystem}/raw/y2024")
    seen["after_renames"] = tree()

    table = pa.table({"zone": ["eu", "eu", "us"], "amount": [1.5, 2.5, 4.0]})
    ds.write_dataset(table, f"{filesystem}/sales", filesystem=fs, format="parquet", partitioning=["zone"])
    read = ds.dataset(f"{filesystem}/sales", filesystem=fs, format="parquet", partitioning=["zone"])
    seen["parquet"] = read.to_table().sort_by("amount").to_pydict()

    fs.delete_file(f"{filesystem}/raw/y2024/orders-renamed.csv")
    fs.delete_dir(f"{filesystem}/raw")
    seen["after_deletes"] = [path for path, _ in tree() if not path.startswith("sales")]
    fs.delete_dir(filesystem)
    return seen


if __name__ == "__main__":
    print(json.dumps(run(*sys.argv[1:5])))
