from django import template

register = template.Library()


@register.inclusion_tag("corpus/includes/tags.html")
def post_tags(post):
    return {"tags": post.tags.all()}  # lazy: evaluated by the inclusion template
