"""Models the corpus needs beyond the reference app's: django-taggit tags, a generic relation,
a model method templates call."""

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from taggit.managers import TaggableManager


class Comment(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=100)


class Note(models.Model):
    title = models.CharField(max_length=100)
    tags = TaggableManager(blank=True)
    comments = GenericRelation(Comment)

    class Meta:
        ordering = ["id"]

    def tag_names(self) -> str:
        return ", ".join(tag.name for tag in self.tags.all())  # N+1 when called per note


class Place(models.Model):
    """Multi-table inheritance, the way Wagtail's pages use it: each row knows its type."""

    name = models.CharField(max_length=100)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]

    def save(self, *args, **kwargs):
        self.content_type = ContentType.objects.get_for_model(type(self))
        super().save(*args, **kwargs)

    def specific(self) -> "Place":
        model = ContentType.objects.get_for_id(self.content_type_id).model_class()
        return model._base_manager.get(pk=self.pk)  # N+1: one subclass row per place


class Restaurant(Place):
    stars = models.IntegerField(default=1)


class Bar(Place):
    happy_hour = models.BooleanField(default=False)
