//! Integration tests of the `postback` server, in one binary: start-up and
//! the command line as an operator meets them, the console's access rules
//! over HTTP, the REST API as a CRM program uses it, and worker processes
//! sharing one PostgreSQL database.

mod api;
mod authorization;
mod contacts;
mod crash;
mod floods;
mod forgery;
mod sealing;
mod startup;
mod support;
mod workers;
