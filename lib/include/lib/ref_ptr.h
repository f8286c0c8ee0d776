#pragma once
// RefPtr<T>: an owning pointer to an object with an intrusive reference
// count (T::retain() / T::release()). Copying retains, destruction releases;
// adopt() takes over a reference the caller already holds (a new object
// starts with one). Shared kernel objects (vnodes, open files, sockets) are
// held this way; raw pointers are for non-owning uses only.
#include <cstddef>
#include <utility>

namespace capsule {

template <typename T>
class RefPtr {
 public:
  RefPtr() = default;
  RefPtr(std::nullptr_t) {}
  // Retains p (nullptr allowed).
  explicit RefPtr(T* p) : p_(p) {
    if (p_) p_->retain();
  }
  static RefPtr adopt(T* p) {
    RefPtr r;
    r.p_ = p;
    return r;
  }
  RefPtr(const RefPtr& o) : RefPtr(o.p_) {}
  RefPtr(RefPtr&& o) : p_(o.p_) { o.p_ = nullptr; }
  template <typename U>
  RefPtr(const RefPtr<U>& o) : RefPtr(static_cast<T*>(o.get())) {}
  template <typename U>
  RefPtr(RefPtr<U>&& o) : p_(o.leak()) {}
  RefPtr& operator=(const RefPtr& o) {
    RefPtr(o).swap(*this);
    return *this;
  }
  RefPtr& operator=(RefPtr&& o) {
    RefPtr(std::move(o)).swap(*this);
    return *this;
  }
  ~RefPtr() {
    if (p_) p_->release();
  }

  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const RefPtr& o) const { return p_ == o.p_; }
  bool operator==(const T* o) const { return p_ == o; }
  // Gives up ownership without releasing.
  T* leak() {
    T* p = p_;
    p_ = nullptr;
    return p;
  }
  void reset() { RefPtr().swap(*this); }
  void swap(RefPtr& o) { std::swap(p_, o.p_); }

 private:
  T* p_ = nullptr;
};

}  // namespace capsule
