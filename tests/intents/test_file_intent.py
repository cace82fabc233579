from django.urls import reverse

from intents.models import Intent, Status
from tests.conftest import login


def post_intent(client, project, htmx=False, **data):
    form = {"title": "Fix it", "description": "", "acceptance_criteria": "", "priority": 1, "attempts": 1, "labels_text": "", "action": "draft"}
    form.update(data)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("intent_new", args=[project.pk]), form, **headers)


def test_a_member_files_a_draft(client, bob, project):
    response = post_intent(login(client, bob), project, title="  Fix   the  thing ", labels_text="Bug, backend, bug")
    intent = Intent.objects.get()
    assert response["Location"] == reverse("intent_detail", args=[intent.pk])
    assert intent.title == "Fix the thing"
    assert intent.labels == ["bug", "backend"]
    assert intent.status == Status.DRAFT
    assert intent.author == bob and intent.team == project.team


def test_a_viewer_cannot_file(client, vera, project):
    assert post_intent(login(client, vera), project).status_code == 403
    assert not Intent.objects.exists()


def test_htmx_gets_inline_errors_and_nothing_is_stored(client, alice, project):
    response = post_intent(login(client, alice), project, htmx=True, title="", attempts=9)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="intent-form"')
    assert "Ensure this value is less than or equal to 5" in body
    assert 'class="errorlist"' in body
    assert not Intent.objects.exists()


def test_htmx_success_redirects_with_a_header(client, alice, project):
    response = post_intent(login(client, alice), project, htmx=True)
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("intent_detail", args=[Intent.objects.get().pk])


def test_an_overlong_description_is_refused_politely(client, alice, project):
    response = post_intent(login(client, alice), project, description="x" * 50_001)
    assert response.status_code == 200
    assert "Keep this under 50,000 characters (it has 50001)" in response.content.decode()
    assert not Intent.objects.exists()


def test_a_5mb_body_is_refused_with_413_and_nothing_is_stored(client, alice, project):
    response = post_intent(login(client, alice), project, description="x" * 5_000_000)
    assert response.status_code == 413
    assert "too large" in response.content.decode().lower()
    assert not Intent.objects.exists()


def test_bad_labels_are_explained(client, alice, project):
    response = post_intent(login(client, alice), project, labels_text="ok, <script>")
    assert "may use letters, digits" in response.content.decode()
    many = post_intent(client, project, labels_text=",".join(f"l{i}" for i in range(11)))
    assert "At most 10 labels" in many.content.decode()


def test_a_script_in_an_intent_never_reaches_the_page(client, alice, project):
    c = login(client, alice)
    post_intent(
        c,
        project,
        title="<script>alert(1)</script>",
        description='Hi <script>alert("x")</script> [click](javascript:alert(1)) <img src=x onerror=alert(2)>',
    )
    intent = Intent.objects.get()
    page = c.get(reverse("intent_detail", args=[intent.pk])).content.decode()
    assert "<script>alert" not in page
    assert 'href="javascript:' not in page
    assert "<img" not in page.split("<main")[1]
    assert "&lt;script&gt;" in page  # shown as text


def test_markdown_is_rendered(client, alice, intent):
    page = login(client, alice).get(reverse("intent_detail", args=[intent.pk])).content.decode()
    assert "<strong>repeated</strong>" in page


def test_the_preview_renders_and_sanitises(client, alice, project):
    c = login(client, alice)
    response = c.post(reverse("intent_preview"), {"description": "# Title\n<script>x</script>"})
    body = response.content.decode()
    assert "<h1>Title</h1>" in body
    assert "<script>" not in body


def test_comments_are_added_and_sanitised(client, bob, intent):
    c = login(client, bob)
    response = c.post(reverse("intent_comment", args=[intent.pk]), {"body": "Looks **good** <script>x</script>"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<strong>good</strong>" in body
    assert "<script>x" not in body
    assert intent.comments.count() == 1


def test_an_empty_comment_is_refused(client, bob, intent):
    response = login(client, bob).post(reverse("intent_comment", args=[intent.pk]), {"body": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Write something first" in response.content.decode()
    assert intent.comments.count() == 0


def test_queueing_without_a_model_says_what_to_do(client, alice, project):
    response = post_intent(login(client, alice), project, action="queue")
    assert "No model is configured" in response.content.decode()
    assert not Intent.objects.exists()
