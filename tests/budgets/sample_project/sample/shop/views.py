from django.core.cache import cache
from django.http import JsonResponse
from django.views.generic import ListView
from rest_framework import generics

from sample.shop.models import Author, Book
from sample.shop.serializers import BookSerializer


def book_titles(request):
    books = Book.objects.order_by("id")
    return JsonResponse({"titles": [f"{book.title} by {book.author.name}" for book in books]})


class BookListView(ListView):
    model = Book
    ordering = ["id"]


class BookListAPI(generics.ListAPIView):
    queryset = Book.objects.order_by("id")
    serializer_class = BookSerializer


class BookListFixed(generics.ListAPIView):
    queryset = Book.objects.select_related("author").order_by("id")
    serializer_class = BookSerializer


def first_book_twice(request):
    pk = Book.objects.order_by("id").values_list("pk", flat=True).first()
    first = Book.objects.get(pk=pk)
    again = Book.objects.get(pk=pk)
    return JsonResponse({"same": first == again})


async def author_count(request):
    return JsonResponse({"authors": await Author.objects.acount()})


def other_db_titles(request):
    return JsonResponse({"titles": list(Book.objects.using("other").values_list("title"))})


def cached_titles(request):
    titles = cache.get("titles")
    if titles is None:
        titles = list(Book.objects.order_by("id").values_list("title", flat=True))
        cache.set("titles", titles)
    return JsonResponse({"titles": titles})
