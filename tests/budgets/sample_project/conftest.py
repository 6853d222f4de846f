import pytest


@pytest.fixture
def books(db):
    """Three books by three authors: enough for every N+1 in the views to show."""
    from sample.shop.models import Author, Book

    for n in range(3):
        Book.objects.create(title=f"Book {n}", author=Author.objects.create(name=f"A{n}"))
