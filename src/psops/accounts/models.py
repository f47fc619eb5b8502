from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A person who works in psops. Roles are groups; `manager` is the line manager (a sales rep's manager may act
    on the rep's deals)."""

    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports")
    title = models.CharField(max_length=120, blank=True)

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class LoginFailure(models.Model):
    """One failed password check at the login form: which username was tried, from which client address, when.

    Kept in the database so every web process counts the same failures (psops.accounts.throttle). The row is
    written before the password is checked, so simultaneous guesses in other processes already count it, and is
    deleted when the password was right. Rows older than the throttle's window are deleted as new attempts come."""

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["address", "at"], name="loginfailure_address_at"),
                   models.Index(fields=["at"], name="loginfailure_at")]

    def __str__(self) -> str:
        return f"{self.username} from {self.address or 'unknown address'} at {self.at:%Y-%m-%d %H:%M:%S}"
