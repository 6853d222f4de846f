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
