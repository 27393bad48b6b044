"""Make this checkout importable as ansible_collections.lvs.ipvs for pytest."""
from __future__ import annotations

import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def _collection_root() -> str:
    """Return a folder holding ansible_collections/lvs/ipvs -> this checkout (made once).

    One folder per checkout (named by a hash of its path), so that test runs of two checkouts at once never import
    each other's code."""
    for parent in (os.path.dirname(os.path.dirname(os.path.dirname(REPO))),):
        if os.path.basename(os.path.dirname(REPO)) == "lvs" and os.path.basename(os.path.dirname(os.path.dirname(REPO))) == "ansible_collections":
            return parent
    cache = os.environ.get("LVS_IPVS_CACHE", os.path.expanduser("~/.cache/lvs-ipvs"))
    root = os.path.join(cache, "collections", hashlib.sha1(REPO.encode()).hexdigest()[:12])
    link = os.path.join(root, "ansible_collections", "lvs", "ipvs")
    if os.path.realpath(link) != REPO:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        tmp = link + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(REPO, tmp)
        os.replace(tmp, link)
    return root


COLLECTION_ROOT = _collection_root()
sys.path.insert(0, COLLECTION_ROOT)
