from django.urls import path

from tests.probe.corpus import views

CASES = {
    "loop-in-view": (views.loop_in_view, views.loop_in_view_twin),
    "list-view": (views.PostList.as_view(), views.PostListTwin.as_view()),
    "template-response": (views.cards, views.cards_twin),
    "render-in-view": (views.rendered_in_view, views.rendered_in_view_twin),
    "inclusion-tag": (views.inclusion, views.inclusion_twin),
    "method-in-template": (views.method_in_template, views.method_in_template_twin),
    "jinja2": (views.jinja, views.jinja_twin),
    "drf-nested": (views.NestedList.as_view(), views.NestedListTwin.as_view()),
    "drf-source": (views.SourceList.as_view(), views.SourceListTwin.as_view()),
    "drf-many": (views.TaggedList.as_view(), views.TaggedListTwin.as_view()),
    "taggit": (views.taggit_tags, views.taggit_tags_twin),
    "generic-relation": (views.generic_relation, views.generic_relation_twin),
    "raw-cursor": (views.raw_cursor, views.raw_cursor_twin),
    "polymorphic": (views.polymorphic, views.polymorphic_twin),
}

urlpatterns = [
    pattern
    for name, (naive, twin) in CASES.items()
    for pattern in (path(f"{name}/", naive), path(f"{name}/twin/", twin))
] + [
    path("detail-view/<int:pk>/", views.AuthorDetail.as_view()),
    path("detail-view/twin/<int:pk>/", views.AuthorDetailTwin.as_view()),
]
