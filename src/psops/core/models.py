from django.db import models


class Holiday(models.Model):
    """A company-wide day off added by the administrator, on top of the country's public holidays."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"
