"""How a ticket is searched: the whole text for the sparse lanes, the cleaned description for the embedding."""
from __future__ import annotations

from search.searcher import Searcher
from search.ticket import ticket_query

TICKET = ("Hello support,\n\nOur players fail since this morning, customers see a black screen.\n"
          "2026-11-20 10:00:01 shaka.util.Error code 6007 LICENSE_REQUEST_FAILED\n\n"
          "Thanks,\nMaria\n\n> On Mon, Nov 16, support wrote:\n> please clear your cache")


class RecordingEncoder:
    def __init__(self, inner):
        self.inner, self.dim, self.backend, self.seen = inner, inner.dim, inner.backend, []

    def encode(self, texts, batch_size=32):
        self.seen.extend(texts)
        return self.inner.encode(texts)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)


def test_ticket_query_keeps_logs_and_quotes_for_the_sparse_lanes_and_cleans_the_focus():
    ticket = ticket_query(TICKET, subject="Playback broken")
    assert ticket.query.startswith("Playback broken\n") and "clear your cache" in ticket.query
    assert "10:00:01" in ticket.query                      # log lines stay for BM25 and identifiers
    assert "Maria" not in ticket.query and "Hello support" not in ticket.query   # removed text is in no lane
    assert "clear your cache" not in ticket.focus and "10:00:01" not in ticket.focus and "Maria" not in ticket.focus
    assert "black screen" in ticket.focus and "LICENSE_REQUEST_FAILED" in ticket.focus  # + the logs' identifiers
    assert "6007" not in ticket.focus   # a bare number is no identifier on its own (only declared codes match it)
    assert ticket.focus == ticket.cleaned.query
    assert len(ticket_query("x " * 30000, limit=100).query) == 100


def test_search_embeds_the_focus_and_reads_the_whole_query(real_searcher):
    encoder = RecordingEncoder(real_searcher.encoder)
    searcher = Searcher(real_searcher.build, encoder, real_searcher.config)
    ticket = ticket_query(TICKET)
    response = searcher.search(ticket.query, k=3, focus=ticket.focus)
    assert encoder.seen == [ticket.focus]
    assert response.query == ticket.query
    assert "6007" in response.identifiers   # only the log line has it: the identifier lane read the whole ticket
    assert response.results[0].article_id == "FAQ-DRM-001"
    searcher.search("LICENSE_REQUEST_FAILED", k=3, focus="   ")   # a blank focus falls back to the query
    assert encoder.seen[-1] == "LICENSE_REQUEST_FAILED"
