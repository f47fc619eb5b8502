from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who works in psops. Roles are groups; `manager` is the line manager (a sales rep's manager may act
    on the rep's deals)."""

    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    title = models.CharField(max_length=120, blank=True)

    def __str__(self) -> str:
        return self.get_full_name() or self.username
