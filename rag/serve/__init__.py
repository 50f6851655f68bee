"""`rag serve`: an OpenAI-compatible API over the knowledge bases that keeps the checked
answer and its checked citations, document upload with background re-indexing, and a web
page. app.py builds the app; chat.py, search.py and documents.py are the HTTP routers over
the services (chat_service, engines, kb, indexer, queue); wire.py holds the reply shapes."""
