from django.urls import path

from sample.shop import views

urlpatterns = [
    path("titles/", views.book_titles, name="titles"),
    path("books/", views.BookListView.as_view(), name="books"),
    path("api/books/", views.BookListAPI.as_view(), name="api-books"),
    path("api/books/fixed/", views.BookListFixed.as_view(), name="api-books-fixed"),
    path("twice/", views.first_book_twice, name="twice"),
    path("async/count/", views.author_count, name="author-count"),
    path("other/", views.other_db_titles, name="other"),
    path("cached/", views.cached_titles, name="cached"),
]
