def test_root_answers(client):
    reply = client.get("/")
    assert reply.status == 200
    assert reply.json == {"msg": "rest server is up and running"}


def test_todos_listed(client):
    reply = client.get("/todos")
    assert reply.status == 200, reply.body
    assert [r["id"] for r in reply.json] == [1, 2, 3, 4, 5, 6, 7]
