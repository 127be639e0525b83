// A real HTTP/1.1 server for tests, on 127.0.0.1 and an ephemeral port, run
// by Boost.Beast on its own thread. Tests give it a handler that chooses each
// answer (status, body, an optional delay) and read back every request it
// received, so plugins are tested against a socket rather than a mock.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace cascade::testing {

struct HttpRequest {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // lower-case names
};

struct HttpResponse {
    int status = 200;
    std::string body = "{}";
    std::string content_type = "application/json";
    std::chrono::milliseconds delay{0};  // wait this long before answering
};

class HttpServer {
public:
    explicit HttpServer(std::function<HttpResponse(const HttpRequest&)> handler = {})
        : handler_(std::move(handler)), acceptor_(io_) {
        namespace asio = boost::asio;
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        Accept();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~HttpServer() {
        // Everything the server owns lives on its thread: stop there, then join.
        boost::asio::post(io_, [this] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            io_.stop();
        });
        thread_.join();
    }

    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    unsigned short Port() const { return port_; }

    std::string Url(std::string_view path = "/") const {
        std::string url = "http://127.0.0.1:" + std::to_string(port_);
        if (path.empty() || path.front() != '/') {
            url += '/';
        }
        url += path;
        return url;
    }

    // A copy of every request received so far, in arrival order.
    std::vector<HttpRequest> Requests() const {
        const std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    using Request = boost::beast::http::request<boost::beast::http::string_body>;
    using Response = boost::beast::http::response<boost::beast::http::string_body>;

    // One connection: read a request, answer it (after the chosen delay),
    // and keep going while the client keeps the connection alive.
    struct Connection : std::enable_shared_from_this<Connection> {
        Connection(HttpServer& owner, boost::asio::ip::tcp::socket socket)
            : server(owner), stream(std::move(socket)), timer(stream.get_executor()) {}

        void Read() {
            request = {};
            boost::beast::http::async_read(
                stream, buffer, request,
                [self = shared_from_this()](boost::system::error_code error, std::size_t) { self->OnRead(error); });
        }

        void OnRead(boost::system::error_code error) {
            if (error) {
                Close();
                return;
            }
            HttpRequest seen;
            seen.method = std::string(request.method_string());
            seen.target = std::string(request.target());
            seen.body = request.body();
            for (const auto& field : request) {
                std::string name(field.name_string());
                std::transform(name.begin(), name.end(), name.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                seen.headers[name] = std::string(field.value());
            }
            {
                const std::lock_guard lock(server.mutex_);
                server.requests_.push_back(seen);
            }
            const HttpResponse answer = server.handler_ ? server.handler_(seen) : HttpResponse{};
            response = Response(static_cast<boost::beast::http::status>(answer.status), request.version());
            response.set(boost::beast::http::field::server, "cascade-test");
            response.set(boost::beast::http::field::content_type, answer.content_type);
            response.body() = answer.body;
            response.keep_alive(request.keep_alive());
            response.prepare_payload();
            if (answer.delay.count() > 0) {
                timer.expires_after(answer.delay);
                timer.async_wait([self = shared_from_this()](boost::system::error_code) { self->Write(); });
            } else {
                Write();
            }
        }

        void Write() {
            boost::beast::http::async_write(stream, response,
                                            [self = shared_from_this()](boost::system::error_code error, std::size_t) {
                                                if (error || !self->response.keep_alive()) {
                                                    self->Close();
                                                    return;
                                                }
                                                self->Read();
                                            });
        }

        void Close() {
            boost::system::error_code ignored;
            stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
            stream.socket().close(ignored);
        }

        HttpServer& server;
        boost::beast::tcp_stream stream;
        boost::asio::steady_timer timer;
        boost::beast::flat_buffer buffer;
        Request request;
        Response response;
    };

    void Accept() {
        acceptor_.async_accept([this](boost::system::error_code error, boost::asio::ip::tcp::socket socket) {
            if (error) {
                return;  // closed: the server is stopping
            }
            std::make_shared<Connection>(*this, std::move(socket))->Read();
            Accept();
        });
    }

    std::function<HttpResponse(const HttpRequest&)> handler_;
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    mutable std::mutex mutex_;
    std::vector<HttpRequest> requests_;
    std::thread thread_;
};

}  // namespace cascade::testing
