"""The dashboard's entry script: ``streamlit run infra/local/dashboard/app.py`` (the ``dashboard`` service).

It lays out the navigation, runs the chosen page, and turns the two expected failures into a message
instead of a traceback: no gold yet (no pipeline run) and a lake that does not answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st
from deltalake.exceptions import DeltaError

from infra.local.dashboard import pages
from infra.local.dashboard.data import NO_GOLD, NoGold


def main() -> None:
    st.set_page_config(page_title="Lakehouse", layout="wide")
    # The first page is the default one and lives at "/"; the others at "/<path>".
    navigation = st.navigation(
        [st.Page(render, title=title, url_path=path) for render, title, path in pages.PAGES]
    )
    lake = pages.lake()
    try:
        navigation.run()
    except NoGold:
        st.warning(NO_GOLD)
    except (OSError, DeltaError) as exc:  # storage that does not answer, or refuses the key
        st.error(
            f"Cannot read the lake at {lake.settings.dfs_url}: {exc}. "
            "Is the local stack up? Start it with `lakehouse up`."
        )
    st.caption(f"Read from {lake.url('gold')} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")


main()
