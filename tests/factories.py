"""factory_boy factories. Homes are made through the service so they get their defaults."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from emar import services
from emar.models import CareHome, Membership, Provider, Role, Unit, User

TEST_PASSWORD = "correct-horse-battery"


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Provider {n}")


class HomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareHome

    provider = factory.SubFactory(ProviderFactory)
    name = factory.Sequence(lambda n: f"Home {n}")
    timezone = "Europe/London"

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> CareHome:
        extra = {
            k: kwargs.pop(k) for k in list(kwargs) if k not in ("provider", "name", "timezone")
        }
        home = services.home_create(
            provider=kwargs["provider"], name=kwargs["name"], timezone_name=kwargs["timezone"]
        )
        if extra:
            CareHome.objects.filter(pk=home.pk).update(**extra)
            home.refresh_from_db()
        return home


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit

    home = factory.SubFactory(HomeFactory)
    name = factory.Sequence(lambda n: f"Unit {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password(TEST_PASSWORD)


def staff(home: CareHome, role: str = Role.CARER, **user_kwargs) -> User:
    """A user with `role` at `home` (inspectors get access for 30 days)."""
    user = UserFactory(**user_kwargs)
    expires = timezone.now() + dt.timedelta(days=30) if role == Role.INSPECTOR else None
    Membership.objects.create(user=user, home=home, role=role, expires_at=expires)
    return user
