"""Drives the server with a client generated from openapi/openapi.json (openapi-python-client).

Usage: BASE_URL=http://127.0.0.1:PORT python client_flow.py  (PYTHONPATH holds aniworld_client)
"""

import os

from aniworld_client import AuthenticatedClient, Client
from aniworld_client.api.anime import anime_add, anime_list, anime_search
from aniworld_client.api.auth import auth_login, auth_setup, auth_status
from aniworld_client.api.queue import queue_add, queue_status
from aniworld_client.models import (
    AddRequest,
    AnimeList,
    AnimeSummary,
    AuthStatus,
    EpisodeToQueue,
    LoginResponse,
    PasswordRequest,
    QueueAddRequest,
    QueueAddResult,
    QueueStatusView,
    SearchRequest,
)

base = os.environ["BASE_URL"]
password = "generated client password"

public = Client(base_url=base, raise_on_unexpected_status=True)
setup = auth_setup.sync(client=public, body=PasswordRequest(password=password))
assert isinstance(setup, AuthStatus) and setup.setup_done, setup

login = auth_login.sync(client=public, body=PasswordRequest(password=password))
assert isinstance(login, LoginResponse), login
client = AuthenticatedClient(base_url=base, token=login.token, raise_on_unexpected_status=True)

status = auth_status.sync(client=client)
assert isinstance(status, AuthStatus) and status.authenticated, status

hits = anime_search.sync(client=client, body=SearchRequest(query="alpha"))
assert isinstance(hits, list) and hits, hits
hit = hits[0]
assert hit.key == "alpha-show", hit

added = anime_add.sync(client=client, body=AddRequest(link=hit.link))
assert isinstance(added, AnimeSummary), added
assert added.key == "alpha-show" and added.folder, added

listed = anime_list.sync(client=client, q="alpha")
assert isinstance(listed, AnimeList) and listed.total == 1, listed

queued = queue_add.sync(
    client=client,
    body=QueueAddRequest(episodes=[EpisodeToQueue(key=added.key, season=1, episode=1)]),
)
assert isinstance(queued, QueueAddResult), queued
assert len(queued.added) == 1 and not queued.skipped, queued

state = queue_status.sync(client=client)
assert isinstance(state, QueueStatusView), state
assert [(i.key, i.season, i.episode) for i in state.items] == [("alpha-show", 1, 1)], state.items

print("generated client flow ok")
