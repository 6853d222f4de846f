"""A MarkovTaskSet: a visitor moves between pages along weighted transitions."""

from locust import HttpUser, MarkovTaskSet, constant, transition, transitions


class Visit(MarkovTaskSet):
    @transition("catalogue")
    def home(self):
        self.client.get("/")

    @transitions({"product": 3, "home": 1})
    def catalogue(self):
        self.client.get("/catalogue/")

    @transitions([("cart", 1), ("catalogue", 1)])
    def product(self):
        self.client.get("/product/42")

    @transition("home")
    def cart(self):
        self.client.get("/cart/")


class MarkovUser(HttpUser):
    wait_time = constant(0.02)
    tasks = [Visit]
