from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import AuditEntry, Membership, Role
from tests.conftest import login


def test_an_owner_adds_an_existing_account(client, alice, team, mallory):
    response = login(client, alice).post(reverse("team_settings"), {"add-username": "mallory", "add-role": "viewer"})
    assert response.status_code == 302
    assert Membership.objects.get(team=team, user=mallory).role == Role.VIEWER
    assert AuditEntry.objects.filter(team=team, action="member.add").exists()


def test_an_owner_creates_an_account_with_a_password(client, alice, team):
    login(client, alice).post(
        reverse("team_settings"), {"add-username": "carol", "add-password": "a-long-enough-pass-9", "add-role": "member"}
    )
    carol = User.objects.get(username="carol")
    assert carol.check_password("a-long-enough-pass-9")
    assert Membership.objects.filter(team=team, user=carol).exists()


def test_a_new_account_needs_a_password(client, alice, team):
    response = login(client, alice).post(reverse("team_settings"), {"add-username": "nobody", "add-role": "member"})
    assert response.status_code == 200
    assert "give a password to create one" in response.content.decode()
    assert not User.objects.filter(username="nobody").exists()


def test_a_weak_password_is_refused(client, alice, team):
    response = login(client, alice).post(
        reverse("team_settings"), {"add-username": "dave", "add-password": "123", "add-role": "member"}
    )
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="dave").exists()


def test_adding_someone_twice_says_so(client, alice, team, bob):
    response = login(client, alice).post(reverse("team_settings"), {"add-username": "bob", "add-role": "member"})
    assert "already a member" in response.content.decode()


def test_an_owner_changes_a_role_and_it_is_audited(client, alice, team, bob):
    membership = Membership.objects.get(team=team, user=bob)
    login(client, alice).post(reverse("member_role", args=[membership.pk]), {"role": "maintainer"})
    membership.refresh_from_db()
    assert membership.role == Role.MAINTAINER
    entry = AuditEntry.objects.get(team=team, action="member.role")
    assert entry.before == {"role": "member"} and entry.after == {"role": "maintainer"}


def test_the_last_owner_cannot_step_down(client, alice, team):
    membership = Membership.objects.get(team=team, user=alice)
    response = login(client, alice).post(reverse("member_role", args=[membership.pk]), {"role": "member"}, follow=True)
    membership.refresh_from_db()
    assert membership.role == Role.OWNER
    assert "at least one owner" in response.content.decode()


def test_a_member_cannot_change_roles(client, bob, team, alice):
    membership = Membership.objects.get(team=team, user=alice)
    response = login(client, bob).post(reverse("member_role", args=[membership.pk]), {"role": "viewer"})
    assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_a_member_cannot_add_members(client, bob, team):
    response = login(client, bob).post(reverse("team_settings"), {"add-username": "eve", "add-password": "x" * 20, "add-role": "owner"})
    assert response.status_code == 403
    assert not User.objects.filter(username="eve").exists()


def test_an_outsider_cannot_touch_a_membership(client, mallory, team, bob):
    membership = Membership.objects.get(team=team, user=bob)
    assert login(client, mallory).post(reverse("member_remove", args=[membership.pk])).status_code == 404
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_an_owner_removes_a_member(client, alice, team, bob):
    membership = Membership.objects.get(team=team, user=bob)
    login(client, alice).post(reverse("member_remove", args=[membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_team_switcher_changes_the_current_team(client, alice, team):
    from accounts.actions import do_create_team

    other = do_create_team(alice, "Second team")
    c = login(client, alice)
    c.post(reverse("team_switch"), {"team": other.pk})
    assert "Second team" in c.get(reverse("team_settings")).content.decode().split("<h1>")[1][:40]


def test_the_switcher_does_not_redirect_off_site(client, alice, team):
    response = login(client, alice).post(reverse("team_switch"), {"team": team.pk}, HTTP_REFERER="https://evil.example/x")
    assert response["Location"] == "/"


def test_the_audit_log_is_for_maintainers(client, alice, bob, team):
    assert login(client, alice).get(reverse("audit_log")).status_code == 200
    assert login(client, bob).get(reverse("audit_log")).status_code == 403


def test_sign_in_and_sign_out(client, alice, team):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_a_user_without_a_team_is_asked_to_create_one(client, db):
    user = User.objects.create_user("lonely", password="lonely-password-1")
    c = login(client, user)
    assert c.get(reverse("home"))["Location"] == reverse("team_new")
    c.post(reverse("team_new"), {"name": "Lonely team"})
    assert Membership.objects.get(user=user).role == Role.OWNER
