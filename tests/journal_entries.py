"""Whole journal entries, for tests that look at what a queue holds (kefu itself scans only
the leases, and reads an entry whole only to act on it)."""

from __future__ import annotations

from adapters.queue.journal import JournalEntry, LeaseJournal


def journal_entries(journal: LeaseJournal) -> dict[str, JournalEntry]:
    """Every unfinished job's entry that kefu wrote, by job id."""
    read = {job_id: journal.read(job_id) for job_id in journal.leases()}
    return {job_id: entry for job_id, entry in read.items() if entry is not None}
