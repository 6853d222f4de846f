"""The demo's users with short waits, so a few seconds of load exercise every task."""

from locust import constant

from perflab.demo.locustfile import BlogUser, FlowUser


class QuickBlogUser(BlogUser):
    wait_time = constant(0.05)


class QuickFlowUser(FlowUser):
    wait_time = constant(0.05)
